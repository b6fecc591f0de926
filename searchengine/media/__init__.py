"""Finding media files and decoding them into items to embed."""
