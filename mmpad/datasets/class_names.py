"""Class names of the infrared data sets, in label-id order (host-free), as
mmdet's ``evaluation/functional/class_names.py``: the data sets' ``METAINFO`` and
the demo-data generator both take them from here.
"""

#: SODA thermal segmentation: 21 classes, label id = index, 0 = background.
SODA_CLASSES = ('background', 'person', 'building', 'tree', 'road', 'pole', 'grass',
                'door', 'table', 'chair', 'car', 'bicycle', 'lamp', 'monitor',
                'trafficCone', 'trash can', 'animal', 'fence', 'sky', 'river',
                'sidewalk')
#: MFNet thermal segmentation: 9 classes, label id = index, 0 = unlabelled.
MFNET_CLASSES = ('unlabelled', 'car', 'person', 'bike', 'curve', 'car_stop',
                 'guardrail', 'color_cone', 'bump')
#: FLIR ADAS v1 detection: the classes of category ids 1, 2, 3.
FLIR_CLASSES = ('person', 'bicycle', 'car')
