"""The torch optimizer under the shell: building it from ``optim_type``/``optim_conf``, writing
scheduled values into its param groups, and its compiled step."""
