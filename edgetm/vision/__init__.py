"""Image pre- and post-processing: preprocessing, classification, reading images."""
