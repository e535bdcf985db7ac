"""SpeeChain-style YAML configs: loading, parsing into records, type resolution, schedule
expressions, and building an :class:`~optimsche.OptimSchedulerGroup` from them."""
