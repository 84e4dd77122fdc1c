"""Loading pushed models and predicting subject areas for raw abstracts."""

import os

# The SavedModel holds tf.Transform resources: see components/__init__.py.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
