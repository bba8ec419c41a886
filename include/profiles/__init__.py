"""Per-dealer processing profiles: the profiles file's schema (`schema`) and its loading and checks (`load`)."""
