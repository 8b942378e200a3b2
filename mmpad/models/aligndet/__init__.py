"""AlignDet box-domain pre-training for mmdet detectors (aligndet spec).

* :mod:`.pretrainer`: ``AlignDetPretrainer``, online detector + momentum target.
* :mod:`.retina_embed_head`, :mod:`.fcos_embed_head`, :mod:`.embed_bbox_head` +
  :mod:`.embed_roi_head`, :mod:`.detr_embed_head`: the families' heads with
  embedding projectors, each returning a :class:`.view_output.ViewOutput`.
* :mod:`.instance_ids`: batch-unique proposal ids, kept apart from class labels.

The modules register into mmdet's registries when imported; ``import mmpad``
(``mmpad.det``) imports them.
"""
