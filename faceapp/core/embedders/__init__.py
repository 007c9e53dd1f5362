"""Face embedders behind one interface (base.Embedder). registry.create_embedder builds one from its catalog spec
(core/catalog.py); nothing but the registry imports the concrete embedder modules."""
