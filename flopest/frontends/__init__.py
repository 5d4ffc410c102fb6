"""Front ends: turn a framework model into an OpTable (nothing downstream knows which)."""
