"""Component logic of the arXiv subject-area pipeline.

Every module here is importable and unit-testable without running a pipeline; the
pipeline refers to the functions by dotted path (e.g.
`components.preprocessing.preprocessing_fn`), so nothing is packaged at run time.
"""

import os

# tf.Transform and TFMA speak Keras 2: make `tf.keras` the tf_keras package before
# TensorFlow is first imported anywhere in the process.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
