# SOP pre-training data (mmpad's own design; the SOP paper's abstract gives no recipe):
# the Potsdam training tiles with their labels ignored (in-domain) as parents;
# held-out parents from Potsdam val with boxes fixed by seed for the pretext IoU.
# Layout after mmseg's tools/dataset_converters/potsdam.py: data/potsdam/img_dir/{train,val}.
# Same pipelines and loaders as the LoveDA base; only the data root differs.
_base_ = ['./sop_pretrain_loveda.py']

data_root = 'data/potsdam'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
