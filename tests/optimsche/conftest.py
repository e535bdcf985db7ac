"""Shell tests: ``shell_models`` (the small models and batches the shell's tests share) is
importable from every wing's tests, since pytest puts this folder on ``sys.path``."""
