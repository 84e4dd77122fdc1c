"""Pipeline definition, its configuration and the runners that execute it."""

import os

# tf.Transform and TFMA speak Keras 2: see components/__init__.py.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
