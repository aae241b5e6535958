"""One backend per chapter; each calls the study runner."""
