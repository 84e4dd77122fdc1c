"""Pipeline definition, its configuration and the runners that execute it."""

import os

# tf.Transform and TFMA speak Keras 2, and TensorFlow pools its CPU memory: see
# components/__init__.py.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPU_ALLOCATOR_USE_BFC', 'true')
