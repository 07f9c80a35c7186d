"""Files copied verbatim into every model directory we write (config class for auto_map)."""
