"""The study/series browser dock and its thumbnails."""
