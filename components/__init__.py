"""Component logic of the arXiv subject-area pipeline.

Every module here is importable and unit-testable without running a pipeline; the
pipeline refers to the functions by dotted path (e.g.
`components.preprocessing.preprocessing_fn`), so nothing is packaged at run time.
"""

import os

# tf.Transform and TFMA speak Keras 2: make `tf.keras` the tf_keras package before
# TensorFlow is first imported anywhere in the process.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
# TensorFlow's pooling allocator on CPU too (read once, when TensorFlow first
# allocates). With the C library's, each training step's large temporaries (the
# batch's table rows and their gradients) are fresh memory, mapped and zeroed by the
# kernel page by page; pooled, they are reused (the figures:
# docs/performance_history.md). The image sets it too (Dockerfile), for entry points
# that load TensorFlow before this package.
os.environ.setdefault('TF_CPU_ALLOCATOR_USE_BFC', 'true')
