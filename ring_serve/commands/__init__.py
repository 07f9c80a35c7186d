"""One module per `ring` command group; ``ring_serve.cli`` assembles them."""
