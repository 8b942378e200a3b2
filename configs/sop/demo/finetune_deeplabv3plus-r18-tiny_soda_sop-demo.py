# SOP-initialised twin of finetune_deeplabv3plus-r18-tiny_soda-demo.py: weights of
# sop_pretrain_deeplabv3plus-r18-tiny_soda-demo.py converted by tools/sop_to_seg.py
# (see that config's header); only the classifier starts anew.
_base_ = ['./finetune_deeplabv3plus-r18-tiny_soda-demo.py']
load_from = 'work_dirs/sop_pretrain_deeplabv3plus-r18-tiny_soda-demo/sop_to_seg.pth'
