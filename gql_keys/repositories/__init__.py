"""Every database query lives here, next to the models; services call these."""
