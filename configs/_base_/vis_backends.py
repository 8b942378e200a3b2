# Where every mmpad config's visualizer writes its scalars, config and images:
# the stock local files (<work_dir>/<timestamp>/vis_data/) plus TensorBoard event
# files (<work_dir>/<timestamp>/vis_data/events.out.tfevents.*; view them with
# `tensorboard --logdir work_dirs`). TensorboardVisBackend needs the `tensorboard`
# package (requirements/runtime.txt). The configs that pick the stock runtime
# inherit this file and set
#   vis_backends = _base_.mmpad_vis_backends
#   visualizer = dict(vis_backends=vis_backends)
# (the `mmpad_` prefix keeps it from colliding with the stock runtime bases' keys).
# Uncomment WandbVisBackend to log to Weights & Biases as well (`pip install wandb`,
# `wandb login`). A config of yours chooses its own list the same way, e.g. only
# the local files:
#   visualizer = dict(vis_backends=[dict(type='LocalVisBackend')])
mmpad_vis_backends = [
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend'),
    # dict(type='WandbVisBackend', init_kwargs=dict(project='mmpad')),
]
