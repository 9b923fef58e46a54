"""Pure security primitives: passwords, TOTP, encryption, tokens, signing."""
