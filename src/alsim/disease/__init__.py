"""Disease models: the mechanistic ALS model (virtual patients) and, later, an empirical one."""
