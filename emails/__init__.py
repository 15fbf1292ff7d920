"""Sales email: compose, queue, send over Django's email backend (SPEC section 8)."""
