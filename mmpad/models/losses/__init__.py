"""Losses of mmpad; :mod:`.box_contrastive_loss` is AlignDet's (registered into
mmdet's MODELS when imported, which ``import mmpad`` does)."""
