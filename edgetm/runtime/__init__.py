"""Running models over streams of frames: the loop, its threads and their policies."""
