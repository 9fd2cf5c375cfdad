"""Sound: resampling, sliding windows, levels and log-mel features, and how sound models take them."""
