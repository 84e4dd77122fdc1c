"""The MLP: its shapes, TfidfDense as the reference's Dense on a sparse vector, n-gram
dropout, the rare-label loss weights, the optimizer and the label-prior shift."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from components import export
from components import features
from components import model as model_lib
from components import trainer


def _batch():
  ids = tf.SparseTensor([[0, 0], [0, 1], [2, 0]], tf.constant([1, 7, 2], tf.int64), [3, 2])
  weights = tf.SparseTensor([[0, 0], [0, 1], [2, 0]], [0.5, 0.25, 1.0], [3, 2])
  return {features.NGRAM_IDS_KEY: ids, features.NGRAM_WEIGHTS_KEY: weights}


def test_model_maps_a_batch_to_one_probability_per_label():
  model = model_lib.build_model(vocabulary_size=10, hidden_units=(512, 256),
                                learning_rate=1e-3, table_learning_rate=0.01, dropout=0.3,
                                ngram_dropout=0.3, positive_weights=[1.0, 1.0, 2.0, 4.0])
  assert [layer.units for layer in model.layers if hasattr(layer, 'units')] == [512, 256, 4]
  probabilities = model(_batch()).numpy()
  assert probabilities.shape == (3, 4)  # The empty second row still gets an output.
  assert ((probabilities > 0) & (probabilities < 1)).all()
  np.testing.assert_array_equal(probabilities, model(_batch()).numpy())  # no dropout
  assert model.loss.positive_weights == [1.0, 1.0, 2.0, 4.0]


def test_ngram_dropout_removes_a_share_of_ngrams_in_training_only():
  count = 20_000
  indices = np.stack([np.arange(count) // 100, np.arange(count) % 100], axis=1)
  ids = tf.SparseTensor(indices, tf.range(count, dtype=tf.int64), [200, 100])
  weights = tf.SparseTensor(indices, tf.fill([count], 2.0), [200, 100])
  layer = model_lib.NgramDropout(rate=0.25)
  kept_ids, kept_weights = layer([ids, weights], training=True)
  kept = kept_ids.values.numpy()
  assert 0.72 * count < len(kept) < 0.78 * count
  np.testing.assert_array_equal(kept_ids.indices, kept_weights.indices)
  np.testing.assert_allclose(kept_weights.values, 2.0 / 0.75)  # expectation kept
  np.testing.assert_array_equal(kept_ids.indices, indices[kept])  # rows stay aligned
  same_ids, same_weights = layer([ids, weights], training=False)
  assert same_ids is ids and same_weights is weights


def test_weighted_cross_entropy_weighs_only_the_positive_terms():
  labels = tf.constant([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
  probabilities = tf.constant([[0.9, 0.2, 0.3], [0.4, 0.6, 0.01]])
  unweighted = model_lib.WeightedBinaryCrossentropy([1.0, 1.0, 1.0])(labels, probabilities)
  np.testing.assert_allclose(
      unweighted, tf_keras.losses.BinaryCrossentropy()(labels, probabilities), rtol=1e-5)
  weighted = model_lib.WeightedBinaryCrossentropy([1.0, 1.0, 3.0])(labels, probabilities)
  # Label 2 is positive once (p 0.3): its term counts three times instead of once, and
  # the loss averages over 3 labels and 2 rows.
  np.testing.assert_allclose(weighted - unweighted, 2 * -np.log(0.3) / 6, rtol=1e-5)


def test_rare_label_weights_raise_only_labels_rarer_than_the_reference():
  weights = model_lib.rare_label_weights(np.array([0.3, 0.01, 0.0025, 0.0]),
                                         rare_frequency=0.01, power=0.5)
  np.testing.assert_allclose(weights[:3], [1.0, 1.0, 2.0])
  assert np.isfinite(weights[3]) and weights[3] > 2.0  # never seen in train


def test_tfidf_dense_equals_dense_layer_on_the_tfidf_vector():
  layer = model_lib.TfidfDense(vocabulary_size=10, units=5)
  batch = _batch()
  sparse_output = layer([batch[features.NGRAM_IDS_KEY], batch[features.NGRAM_WEIGHTS_KEY]])
  dense_vector = np.zeros((3, 10), np.float32)
  dense_vector[0, 1], dense_vector[0, 7], dense_vector[2, 2] = 0.5, 0.25, 1.0
  np.testing.assert_allclose(sparse_output, dense_vector @ layer.kernel.numpy() +
                             layer.bias.numpy(), rtol=1e-6)


def test_tfidf_dense_gradient_touches_only_the_rows_present():
  layer = model_lib.TfidfDense(vocabulary_size=10, units=5)
  batch = _batch()
  with tf.GradientTape() as tape:
    output = layer([batch[features.NGRAM_IDS_KEY], batch[features.NGRAM_WEIGHTS_KEY]])
    loss = tf.reduce_sum(output)
  kernel_gradient = tape.gradient(loss, layer.kernel)
  assert isinstance(kernel_gradient, tf.IndexedSlices)
  assert sorted(kernel_gradient.indices.numpy()) == [1, 2, 7]


def test_tfidf_dense_sums_the_gradient_of_a_row_used_twice():
  layer = model_lib.TfidfDense(vocabulary_size=10, units=2)
  ids = tf.SparseTensor([[0, 0], [1, 0], [1, 1]], tf.constant([4, 4, 5], tf.int64), [2, 2])
  weights = tf.SparseTensor([[0, 0], [1, 0], [1, 1]], [1.0, 2.0, 3.0], [2, 2])
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(layer([ids, weights]))
  gradient = tape.gradient(loss, layer.kernel)
  dense = tf.convert_to_tensor(gradient).numpy()
  np.testing.assert_allclose(dense[4], [3.0, 3.0])  # weights 1 + 2, once per unit
  np.testing.assert_allclose(dense[5], [3.0, 3.0])
  assert len(gradient.indices) == 2  # one gradient row per distinct id


def test_sorted_unique_numbers_ids_like_tf_unique_in_ascending_order():
  ids = tf.constant([7, 2, 7, 0, 9, 2], tf.int64)
  unique_ids, position = model_lib.sorted_unique(ids, id_count=10)
  np.testing.assert_array_equal(unique_ids, [0, 2, 7, 9])
  np.testing.assert_array_equal(tf.gather(unique_ids, position), ids)  # each id's row
  with pytest.raises(tf.errors.InvalidArgumentError):
    model_lib.sorted_unique(tf.constant([3, 10], tf.int64), id_count=10)


def _train_two_steps(optimizer):
  """A 5x2 table with sparse gradients on rows {1, 2} then {3}, and a dense vector."""
  table = tf.Variable(np.arange(10, dtype=np.float32).reshape(5, 2), name='tfidf_dense/kernel')
  vector = tf.Variable([1.0, -2.0], name='dense/bias')
  for rows, gradient in (([1, 2], [0.5, 1.0]), ([3], [-1.0, 0.25])):
    optimizer.apply_gradients([
        (tf.IndexedSlices(tf.ones((len(rows), 2)), tf.constant(rows, tf.int64)), table),
        (tf.constant(gradient), vector)])
  return table.numpy(), vector.numpy()


def test_optimizer_updates_only_the_table_rows_a_batch_touches_with_adagrad():
  table, _ = _train_two_steps(model_lib.AdamWithSparseAdagrad(
      sparse_learning_rate=0.1, initial_accumulator_value=1.0))
  start = np.arange(10, dtype=np.float32).reshape(5, 2)
  np.testing.assert_allclose(table[[0, 4]], start[[0, 4]])  # never touched
  # Adagrad: accumulator 1 + 1^2 = 2, step 0.1 * 1 / sqrt(2), for each touched row once.
  np.testing.assert_allclose(table[[1, 2, 3]], start[[1, 2, 3]] - 0.1 / np.sqrt(2), rtol=1e-6)


def test_optimizer_updates_dense_variables_exactly_as_adam():
  _, vector = _train_two_steps(model_lib.AdamWithSparseAdagrad(learning_rate=0.1))
  adam = tf.keras.optimizers.Adam(learning_rate=0.1)
  expected = tf.Variable([1.0, -2.0])
  for gradient in ([0.5, 1.0], [-1.0, 0.25]):
    adam.apply_gradients([(tf.constant(gradient), expected)])
  np.testing.assert_allclose(vector, expected.numpy(), rtol=1e-6)


def test_optimizer_step_never_reads_or_writes_the_whole_table():
  # tf_keras' Optimizer defaults weight_decay to 0 and then applies it to every
  # variable, reading and rewriting the ~400 MB table on each step for nothing.
  optimizer = model_lib.AdamWithSparseAdagrad()
  table = tf.Variable(tf.zeros((5, 2)), name='tfidf_dense/kernel')
  vector = tf.Variable([1.0, -2.0], name='dense/bias')

  @tf.function
  def step():
    optimizer.apply_gradients([
        (tf.IndexedSlices(tf.ones((1, 2)), tf.constant([1], tf.int64)), table),
        (tf.constant([0.5, 1.0]), vector)])

  graph = step.get_concrete_function().graph
  table_handle = next(placeholder for captured, placeholder in graph.captures
                      if captured is table.handle)
  uses = {consumer.type for consumer in table_handle.consumers()}
  assert uses == {'ResourceSparseApplyAdagradV2'}, uses


def test_optimizer_keeps_no_adam_moments_for_the_table():
  optimizer = model_lib.AdamWithSparseAdagrad()
  _train_two_steps(optimizer)
  slot_shapes = sorted(tuple(v.shape) for v in optimizer.variables if v.shape.rank)
  assert slot_shapes == [(2,), (2,), (5, 2)]  # m and v of the vector, the accumulator


def test_recency_weights_halve_per_half_life_and_keep_the_mean():
  weights = trainer.recency_weights(np.array([10, 10, 8, 6]), half_life_months=2)
  assert weights.mean() == pytest.approx(1.0)
  assert weights[0] / weights[2] == pytest.approx(2.0)
  assert weights[0] / weights[3] == pytest.approx(4.0)
  # Off, or without spans (-1: data split at random), every paper weighs 1.
  assert np.all(trainer.recency_weights(np.array([10, 8]), 0) == 1)
  assert np.all(trainer.recency_weights(np.array([-1, -1]), 2) == 1)


def test_label_prior_shift_moves_each_logit_to_the_newer_label_mix():
  train = np.array([[1, 0]] * 50 + [[0, 1]] * 50)  # 50% / 50%
  newer = np.array([[1, 0]] * 20 + [[0, 1]] * 80)  # 20% / 80%
  shift = trainer.label_prior_shift(train, newer, pseudo_count=0)
  logit = lambda p: np.log(p / (1 - p))
  np.testing.assert_allclose(shift, [logit(0.2), logit(0.8)], rtol=1e-5)
  # Smoothing pulls the newer share toward train's: halfway with as many pseudo-papers.
  np.testing.assert_allclose(trainer.label_prior_shift(train, newer, pseudo_count=100),
                             [logit(0.35), logit(0.65)], rtol=1e-5)
  # A label absent from the newer month is damped, not driven to minus infinity.
  absent = trainer.label_prior_shift(train, np.array([[0, 1]] * 100), pseudo_count=50)
  assert -2 < absent[0] < 0


def test_shifting_output_logits_moves_each_probability_by_its_shift():
  model = model_lib.build_model(vocabulary_size=10, hidden_units=(8,), learning_rate=1e-3,
                                table_learning_rate=0.01, dropout=0.0, ngram_dropout=0.0,
                                positive_weights=[1.0, 1.0])
  before = model(_batch()).numpy()
  model_lib.shift_output_logits(model, [np.log(3.0), 0.0])
  after = model(_batch()).numpy()
  odds = lambda p: p / (1 - p)
  np.testing.assert_allclose(odds(after[:, 0]), 3 * odds(before[:, 0]), rtol=1e-4)
  np.testing.assert_allclose(after[:, 1], before[:, 1], rtol=1e-6)


def test_early_stopping_restores_the_best_epochs_weights_from_memory():
  model = tf_keras.Sequential([tf_keras.layers.Dense(1, input_shape=(1,))])
  callback = trainer.EarlyStoppingInMemory(monitor='val_micro_f1', mode='max', patience=2)
  callback.set_model(model)
  callback.on_train_begin()
  for epoch, score in enumerate([0.5, 0.7, 0.6, 0.65]):
    model.layers[0].kernel.assign([[float(epoch)]])  # what training changed
    callback.on_epoch_end(epoch, {'val_micro_f1': score})
  assert model.stop_training and callback.best_epoch == 1
  callback.on_train_end()
  assert model.layers[0].kernel.numpy()[0, 0] == 1.0  # epoch 2's weights, 1-based


def test_early_stopping_keeps_the_last_epoch_when_it_is_the_best():
  model = tf_keras.Sequential([tf_keras.layers.Dense(1, input_shape=(1,))])
  callback = trainer.EarlyStoppingInMemory(monitor='val_micro_f1', mode='max', patience=2)
  callback.set_model(model)
  callback.on_train_begin()
  for epoch, score in enumerate([0.5, 0.7]):
    model.layers[0].kernel.assign([[float(epoch)]])
    callback.on_epoch_end(epoch, {'val_micro_f1': score})
  model.layers[0].kernel.assign([[5.0]])  # changed after the snapshot: must stay
  callback.on_train_end()
  assert model.layers[0].kernel.numpy()[0, 0] == 5.0


def test_early_stopping_neither_stops_nor_picks_the_best_before_its_first_epoch():
  model = tf_keras.Sequential([tf_keras.layers.Dense(1, input_shape=(1,))])
  callback = trainer.EarlyStoppingInMemory(monitor='val_micro_f1', mode='max', patience=2,
                                           start_from_epoch=3)
  callback.set_model(model)
  callback.on_train_begin()
  # A stall after epoch 2 would stop training at epoch 4 (1-based) without the floor.
  for epoch, score in enumerate([0.5, 0.8, 0.6, 0.62, 0.61, 0.6]):
    model.layers[0].kernel.assign([[float(epoch)]])
    callback.on_epoch_end(epoch, {'val_micro_f1': score})
    assert model.stop_training == (epoch == 5)
  assert callback.best_epoch == 3
  callback.on_train_end()
  assert model.layers[0].kernel.numpy()[0, 0] == 3.0


def test_epoch_progress_logs_a_short_progress_record_per_epoch(caplog):
  callback = trainer.EpochProgress(max_epochs=20)
  with caplog.at_level('INFO', logger=features.PROGRESS_LOGGER):
    callback.on_epoch_end(0, {'val_micro_f1': 0.61, 'loss': 0.2})
    callback.on_epoch_end(1, {'val_micro_f1': 0.58, 'loss': 0.1})
  messages = [record.getMessage() for record in caplog.records]
  assert messages == ['epoch 1/20, eval micro-F1 0.610, best 0.610 (epoch 1)',
                      'epoch 2/20, eval micro-F1 0.580, best 0.610 (epoch 1)']
  assert all(record.progress for record in caplog.records)
  assert max(len(message) for message in messages) < 60  # Fits beside the spinner.
  member = trainer.EpochProgress(max_epochs=20, prefix='model 2/3, ')
  with caplog.at_level('INFO', logger=features.PROGRESS_LOGGER):
    member.on_epoch_end(0, {'val_micro_f1': 0.6})
  assert caplog.records[-1].getMessage() == (
      'model 2/3, epoch 1/20, eval micro-F1 0.600, best 0.600 (epoch 1)')


def _small_model(seed):
  tf_keras.utils.set_random_seed(seed)
  return model_lib.build_model(vocabulary_size=10, hidden_units=(8, 4), learning_rate=1e-3,
                               table_learning_rate=0.01, dropout=0.3, ngram_dropout=0.3,
                               positive_weights=[1.0, 1.0, 2.0])


def test_a_trained_model_without_its_training_state_saves_no_optimizer(tmp_path):
  """The table's Adagrad accumulator is as large as the table: kept, it doubled the
  saved model and every ensemble member's memory."""
  model = _small_model(seed=1)
  labels = tf.constant([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
  model.fit(tf.data.Dataset.from_tensors((_batch(), labels)), epochs=1, verbose=0)
  assert model.optimizer.variables()  # What the compiled model carries.
  trained = model_lib.without_training_state(model)
  assert trained.optimizer is None
  assert len(trained.weights) == len(model.weights)
  assert all(a is b for a, b in zip(trained.weights, model.weights))  # Shared, not copied.
  np.testing.assert_array_equal(trained(_batch()).numpy(), model(_batch()).numpy())
  tf.saved_model.save(trained, str(tmp_path))
  saved = tf.train.load_checkpoint(str(tmp_path / 'variables' / 'variables'))
  names = saved.get_variable_to_shape_map()
  assert any('kernel' in name for name in names)
  assert not [name for name in names if 'optimizer' in name]


def test_an_ensemble_averages_its_members_probabilities_and_evidence():
  members = [_small_model(seed) for seed in (1, 2)]
  ensemble = model_lib.average_models(members)
  assert [(m, w.tolist()) for m, w in model_lib.members_of(ensemble)] == [
      (members[0], [0.5]), (members[1], [0.5])]
  assert model_lib.average_models(members[:1]) is members[0]
  assert [(m, w.tolist()) for m, w in model_lib.members_of(members[0])] == [(members[0], [1.0])]
  # Per label: the first member 3:1 on labels 0 and 1, the second alone on label 2.
  weighted = model_lib.average_models(members, [[3, 3, 0], [1, 1, 2]])
  batch = _batch()
  probabilities = [m(batch).numpy() for m in members]
  np.testing.assert_allclose(ensemble(batch).numpy(), np.mean(probabilities, axis=0), rtol=1e-6)
  share = np.array([0.75, 0.75, 0.0])
  np.testing.assert_allclose(weighted(batch).numpy(),
                             share * probabilities[0] + (1 - share) * probabilities[1], rtol=1e-6)
  labels = tf.constant([[0, 2], [1, 0], [2, 1]])
  contributions = [export.ngram_contributions(model, batch[features.NGRAM_IDS_KEY],
                                              batch[features.NGRAM_WEIGHTS_KEY], labels).numpy()
                   for model in (*members, ensemble, weighted)]
  assert contributions[0].shape == (3, 2)  # [n-grams in the batch, labels asked]
  assert not np.allclose(contributions[0], contributions[1])
  np.testing.assert_allclose(contributions[2], (contributions[0] + contributions[1]) / 2,
                             rtol=1e-5, atol=1e-7)
  # Each n-gram's label's share: the labels asked are 0, 2 (paper 0) and 2, 1 (paper 2).
  first = np.array([[0.75, 0.0], [0.75, 0.0], [0.0, 0.75]])
  np.testing.assert_allclose(contributions[3],
                             first * contributions[0] + (1 - first) * contributions[1],
                             rtol=1e-5, atol=1e-7)
  with pytest.raises(ValueError, match='2 members need as many rows of non-negative weights'):
    model_lib.average_models(members, [1.0])
  with pytest.raises(ValueError, match='each label'):
    model_lib.average_models(members, [[1, 0], [1, 0]])


def test_a_linear_model_is_a_logistic_regression_on_the_tfidf_vector():
  """No hidden units: probability = sigmoid(bias + sum of weight x table row), the
  prior shift moves its logits, and an n-gram's evidence is its weighted row entry."""
  model = model_lib.build_model(vocabulary_size=10, hidden_units=(), learning_rate=1e-3,
                                table_learning_rate=0.01, dropout=0.3, ngram_dropout=0.3,
                                positive_weights=[1.0, 1.0, 2.0])
  table = model.get_layer(model_lib.TABLE_LAYER)
  assert table.kernel.shape == (10, 3)
  model_lib.shift_output_logits(model, [0.5, 0.0, -1.0])
  batch = _batch()
  kernel = table.kernel.numpy()
  logits = np.stack([0.5 * kernel[1] + 0.25 * kernel[7], np.zeros(3), 1.0 * kernel[2]])
  logits += np.array([0.5, 0.0, -1.0])
  np.testing.assert_allclose(model(batch).numpy(), 1 / (1 + np.exp(-logits)), rtol=1e-5)
  contributions = export.ngram_contributions(
      model, batch[features.NGRAM_IDS_KEY], batch[features.NGRAM_WEIGHTS_KEY],
      tf.constant([[0, 2], [1, 0], [2, 1]])).numpy()
  # N-grams of paper 0 (ids 1, 7) for its labels 0 and 2; paper 2's id 2 for 2 and 1.
  np.testing.assert_allclose(contributions, [
      [0.5 * kernel[1, 0], 0.5 * kernel[1, 2]], [0.25 * kernel[7, 0], 0.25 * kernel[7, 2]],
      [kernel[2, 2], kernel[2, 1]]], rtol=1e-5)


def test_ensemble_member_k_is_the_model_a_single_training_from_seed_plus_k_gives(tmp_path):
  """What makes `make backtest --seeds` score the exported ensemble: its seeds averaged."""
  rng = np.random.default_rng(0)
  rows = [rng.choice(10, size=rng.integers(1, 5), replace=False) for _ in range(40)]
  split = trainer.InMemorySplit(
      ngram_ids=tf.ragged.constant([row.tolist() for row in rows], dtype=tf.int64),
      ngram_weights=tf.ragged.constant([[1.0] * len(row) for row in rows]),
      labels=tf.constant((rng.random((40, 3)) < 0.4).astype(np.float32)),
      spans=np.full(40, -1))
  eval_dataset = trainer.batches(split, 16, shuffle=False, seed=0)
  settings = trainer.settings_lib.TrainerSettings(
      max_epochs=2, min_epochs=1, hidden_units=(8, 4), ensemble_members=2, seed=42)

  def fit(settings, member):
    model, training = trainer.fit_member(settings, member, settings.ensemble_members,
                                         settings.hidden_units, split, eval_dataset,
                                         np.ones(40, np.float32), 10, np.ones(3, np.float32),
                                         str(tmp_path / f'{settings.seed}-{member}'))
    return [w.numpy() for w in model.weights], training

  second, second_training = fit(settings, member=1)
  alone, alone_training = fit(trainer.settings_lib.TrainerSettings(
      max_epochs=2, min_epochs=1, hidden_units=(8, 4), seed=43), member=0)
  assert second_training.seed == alone_training.seed == 43
  timing = 'train_seconds'  # Wall time: the one figure that differs.
  assert ({k: v for k, v in second_training.history.items() if k != timing} ==
          {k: v for k, v in alone_training.history.items() if k != timing})
  for a, b in zip(second, alone):
    np.testing.assert_array_equal(a, b)
  first, _ = fit(settings, member=0)
  assert not np.array_equal(first[0], second[0])


def test_a_split_is_put_in_one_order_whatever_order_its_examples_came_in():
  """The same examples train the same model: the Trainer sorts what Beam wrote in any
  order, and each example keeps its own n-grams, weights, labels and span."""
  rng = np.random.default_rng(1)
  lengths = rng.integers(0, 6, size=30)
  rows = [(rng.integers(0, 50, size=n), rng.random(n).astype(np.float32),
           (rng.random(4) < 0.5).astype(np.float32), np.int64(rng.integers(0, 3)))
          for n in lengths]

  def split_of(order):
    chosen = [rows[i] for i in order]
    return trainer.in_canonical_order(
        np.concatenate([ids for ids, _, _, _ in chosen]).astype(np.int64),
        np.concatenate([weights for _, weights, _, _ in chosen]),
        np.array([len(ids) for ids, _, _, _ in chosen], np.int64),
        np.stack([labels for _, _, labels, _ in chosen]),
        np.array([span for _, _, _, span in chosen]))

  first, second = split_of(range(30)), split_of(rng.permutation(30))
  for a, b in ((first.ngram_ids, second.ngram_ids), (first.ngram_weights, second.ngram_weights)):
    np.testing.assert_array_equal(a.flat_values.numpy(), b.flat_values.numpy())
    np.testing.assert_array_equal(a.row_lengths().numpy(), b.row_lengths().numpy())
  np.testing.assert_array_equal(first.labels.numpy(), second.labels.numpy())
  np.testing.assert_array_equal(first.spans, second.spans)
  as_examples = {(tuple(ids), tuple(weights), tuple(labels), span) for ids, weights, labels, span in
                 zip(first.ngram_ids.to_list(), first.ngram_weights.numpy().tolist(),
                     first.labels.numpy().tolist(), first.spans.tolist())}
  assert as_examples == {(tuple(ids.tolist()), tuple(weights.tolist()), tuple(labels.tolist()),
                          int(span)) for ids, weights, labels, span in rows}
