"""Learning the similarity: losses, online triplet mining, the PK batch sampler (`faceapp train`, issue 14).

torch only; no Qt, no database. The Siamese structure is one network with shared weights applied to every image of a
batch: pairs and triplets are index sets into that one batch of embeddings, so every image is embedded once.
"""
