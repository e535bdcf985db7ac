"""Data parallel training: DDP/FSDP detection, gradient-sync control, the collectives the shell
issues, and the rule deciding which forwards let DDP all-reduce."""
