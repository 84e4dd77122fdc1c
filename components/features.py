"""Feature, label and artifact names, defined once and imported everywhere."""

# Columns of the input CSV (the reference example's layout). Other columns are ignored.
CSV_TITLE_COLUMN = 'titles'
CSV_ABSTRACT_COLUMN = 'summaries'
CSV_TERMS_COLUMN = 'terms'
CSV_REQUIRED_COLUMNS = (CSV_TITLE_COLUMN, CSV_ABSTRACT_COLUMN, CSV_TERMS_COLUMN)
# The monthly files' fourth column (pipeline/arxiv_papers.py writes it); the pipeline
# does not read it.
CSV_ARXIV_ID_COLUMN = 'arxiv_id'

# Raw features of the tf.Examples that ExampleGen writes.
TITLE_KEY = 'title'
ABSTRACT_KEY = 'abstract'
LABELS_KEY = 'labels'  # The paper's arXiv categories, in the order the CSV lists them.
# The span (months since 1970-01) a paper's file belongs to, with monthly input; absent
# otherwise. Not a model input: Transform passes it on (-1 when absent) for the
# Trainer's recency weights.
SPAN_KEY = 'span'

# Splits written by ExampleGen and what each is used for.
TRAIN_SPLIT = 'train'  # Fits the model; the only split Transform analyzes.
EVAL_SPLIT = 'eval'  # Early stopping and decision-threshold tuning.
TEST_SPLIT = 'test'  # Held out for the Evaluator (TFMA) alone.
SPLITS = (TRAIN_SPLIT, EVAL_SPLIT, TEST_SPLIT)

# Transformed features (outputs of `preprocessing_fn`).
NGRAM_IDS_KEY = 'ngram_ids'  # Vocabulary ids of a document's unigrams and bigrams.
NGRAM_WEIGHTS_KEY = 'ngram_weights'  # Their TF-IDF weights, aligned with the ids.
LABEL_IDS_KEY = 'label_ids'  # Label-vocabulary ids: the sparse form of the multi-hot.

# tf.Transform vocabulary files.
NGRAM_VOCABULARY = 'ngram_vocabulary'
LABEL_VOCABULARY = 'label_vocabulary'

# Model inputs and outputs shared by the Trainer, the Evaluator and the serving code.
MULTI_HOT_LABELS_KEY = 'labels_multi_hot'
PROBABILITIES_KEY = 'probabilities'
# Probabilities shifted per label so that 0.5 is the model's tuned decision threshold.
DECISION_SCORES_KEY = 'decision_scores'
# The label-priors baseline's decision scores (train's label shares, 0.5 at the
# threshold that suits eval), for the Evaluator to judge the model against.
PRIOR_DECISION_SCORES_KEY = 'prior_decision_scores'
TOP_K_LABELS_KEY = 'top_k_labels'
TOP_K_PROBABILITIES_KEY = 'top_k_probabilities'
# 1 where a label's probability reaches its threshold and the text has no input warning.
PREDICTED_KEY = 'predicted'
LABEL_NAMES_KEY = 'label_names'  # Each row's label names, aligned with the two above.
# Why the text is too little evidence to suggest labels (no label is then predicted):
# '', UNSUPPORTED_SCRIPT, TOO_SHORT or UNFAMILIAR.
INPUT_WARNING_KEY = 'input_warning'
UNSUPPORTED_SCRIPT = 'unsupported_script'  # Mostly a script without spaces (CJK).
TOO_SHORT = 'too_short'
UNFAMILIAR = 'unfamiliar'
# The `explain` signature's further outputs.
NGRAMS_KEY = 'ngrams'  # Unigram and bigram occurrences in title and abstract.
KNOWN_NGRAMS_KEY = 'known_ngrams'  # Those in the n-gram vocabulary.
EVIDENCE_NGRAMS_KEY = 'evidence_ngrams'  # [top-k labels, n] n-grams behind each label.
EVIDENCE_SCORES_KEY = 'evidence_scores'  # Their contributions to the label's logit.

# Slicing columns the `transform_features` signature adds for TFMA.
LABEL_COUNT_SLICE = 'label_count'  # '1', '2' or '3+' true labels
ABSTRACT_LENGTH_SLICE = 'abstract_length'  # a bucket of words
PRIMARY_LABEL_SLICE = 'primary_label'  # the first-listed category

# Components log their live progress (the Trainer's epochs) to this logger with
# extra={'progress': True}: the terminal's spinner line shows it (pipeline/console.py).
PROGRESS_LOGGER = 'arxiv.progress'

# Signature names of the exported SavedModel.
SERVING_SIGNATURE = 'serving_default'  # Raw abstract strings in, labels out.
EXAMPLES_SIGNATURE = 'serve_examples'  # Serialized tf.Examples in (for TFMA).
TRANSFORM_SIGNATURE = 'transform_features'  # TFMA's preprocessing function.
LABELS_SIGNATURE = 'label_vocabulary'  # Label names and thresholds, no input.
# serving_default's outputs, how much of the text the model knows, and the n-grams
# behind each top-k label: for people (the portal).
EXPLAIN_SIGNATURE = 'explain'
