# AlignDet pre-training for Mask R-CNN: the box branch only (the mask head is not
# pre-trained), i.e. the Faster R-CNN recipe on a MaskRCNN detector. The Faster
# R-CNN pre-training checkpoint serves Mask R-CNN equally (issues #10, #30).
_base_ = ['./aligndet_faster-rcnn_r50_fpn_8xb2-12e_coco-proposals.py']

model = dict(detector=dict(type='MaskRCNN'))
