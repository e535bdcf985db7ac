"""The mechanics of one update: the accumulation window and its items, AMP (autocast and the
fp16 GradScaler), and the gradient norm and clipping."""
