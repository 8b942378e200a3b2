"""AlignDet: box-domain pre-training of every module of an mmdet detector
(RetinaNet, FCOS, Faster/Mask R-CNN, DETR) from unsupervised proposals.

Method: AlignDet, Li et al., ICCV 2023, arXiv 2307.11077. "The reference" in these
modules means the authors' code, liming-ai/AlignDet at commit d29f70b (mmdet
2.25.2); issue numbers refer to that repository.

* :mod:`.pretrainer`: ``AlignDetPretrainer``, online detector + momentum target;
* :mod:`.retina_embed_head`, :mod:`.fcos_embed_head`, :mod:`.embed_bbox_head` +
  :mod:`.embed_roi_head`, :mod:`.detr_embed_head`: each family's head with
  embedding projectors, returning a :class:`.view_output.ViewOutput`;
* :mod:`.box_contrastive_loss`: the one contrastive loss of every family;
* :mod:`.instance_ids`: batch-unique proposal ids, kept apart from class labels;
* :mod:`.proposal_dataset`, :mod:`.transforms`: proposals and the two views;
* :mod:`.momentum_hook`, :mod:`.reset_norms_hook`;
* :mod:`.convert` (pre-trainer -> stock detector), :mod:`.clustering`
  (pseudo-labels for proposals).

Every registered name is an attribute of this package, imported on first use.
"""
from mmpad.registration import lazy_exports

__all__, __getattr__ = lazy_exports(__name__)
