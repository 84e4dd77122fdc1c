"""The data report's and the training record's schemas: round trip, and malformed files."""

import json
import os

import pytest

from components import run_records


def data_report() -> run_records.DataReport:
  return run_records.DataReport(
      input_pattern='papers_{YYYY}-{MM}.csv', input_files=['a.csv', 'b.csv', 'c.csv'],
      spans={'train': ['2026-01', '2026-02'], 'eval': ['2026-02'], 'test': ['2026-03']},
      rows_read=10, rows_dropped={'empty_title': 1, 'duplicate_title': 0},
      dropped_examples={'empty_title': [
          run_records.DroppedRecord(file='a.csv', record=3, detail='title is empty')]},
      rows_kept=9, split_sizes={'train': 6, 'eval': 1, 'test': 2},
      label_combinations_kept=2, abstract_words_bin=25,
      abstract_words={'train': [1, 5], 'eval': [0, 1], 'test': [2, 0]},
      vocabulary=run_records.Vocabulary(top_train_words=['model', 'data'], splits={
          'train': run_records.SplitWords(words=50, top_train_words=[8, 5], other_words=37,
                                          words_not_in_train=0)}),
      label_counts={'train': {'cs.LG': 4, 'cs.CV': 2}, 'eval': {'cs.LG': 1}, 'test': {}})


def training_record() -> run_records.TrainingRecord:
  return run_records.TrainingRecord(
      members=[run_records.MemberTraining(
          seed=42, history={'loss': [0.5, 0.4], 'val_micro_f1': [0.6, 0.65]}, epochs_run=2,
          best_epoch=2)], vocabulary_size=1001, num_labels=2, parameters=12345,
      positive_weights={'cs.LG': 1.0, 'cs.CV': 3.5}, recency_weights={'-1': 1.0},
      label_prior_shift={'cs.LG': -0.2, 'cs.CV': 0.1}, threshold=0.35,
      label_thresholds={'cs.LG': 0.35, 'cs.CV': 0.35}, eval_metrics={'micro_f1': 0.6})


@pytest.mark.parametrize('make', [data_report, training_record])
def test_a_record_reads_back_as_written(make, tmp_path):
  record = make()
  path = record.write(str(tmp_path / 'artifact'))
  assert path == os.path.join(str(tmp_path / 'artifact'), type(record).FILE_NAME)
  assert type(record).read(str(tmp_path / 'artifact')) == record


def test_the_file_keeps_the_names_and_layout_readers_of_old_runs_know(tmp_path):
  data_report().write(str(tmp_path))
  training_record().write(str(tmp_path))
  with open(tmp_path / 'data_report.json', encoding='utf-8') as f:
    report = json.load(f)
  assert report['dropped_examples']['empty_title'] == [
      {'file': 'a.csv', 'record': 3, 'detail': 'title is empty'}]
  assert report['vocabulary']['splits']['train']['other_words'] == 37
  assert list(report['label_counts']['train']) == ['cs.LG', 'cs.CV']  # Order kept.
  with open(tmp_path / 'training_record.json', encoding='utf-8') as f:
    assert json.load(f)['members'][0]['best_epoch'] == 2


def _write_json(directory, record_type, values):
  os.makedirs(directory, exist_ok=True)
  with open(os.path.join(directory, record_type.FILE_NAME), 'w', encoding='utf-8') as f:
    json.dump(values, f)


def test_a_missing_field_is_named_with_the_file(tmp_path):
  values = training_record().model_dump()
  del values['threshold']
  _write_json(str(tmp_path), run_records.TrainingRecord, values)
  with pytest.raises(run_records.RecordError) as error:
    run_records.TrainingRecord.read(str(tmp_path))
  assert str(error.value) == (f'{tmp_path / "training_record.json"} is not a valid '
                              "TrainingRecord: missing field 'threshold'")


def test_an_unknown_field_and_a_nested_bad_value_are_named(tmp_path):
  values = data_report().model_dump()
  values['rows_skipped'] = 3
  values['vocabulary']['splits']['train']['other_words'] = 'many'
  _write_json(str(tmp_path), run_records.DataReport, values)
  with pytest.raises(run_records.RecordError) as error:
    run_records.DataReport.read(str(tmp_path))
  message = str(error.value)
  assert "unknown field 'rows_skipped'" in message
  assert "field 'vocabulary.splits.train.other_words': Input should be a valid integer" in (
      message)


def test_best_validation_micro_f1_is_the_highest_epochs():
  assert training_record().members[0].best_val_micro_f1 == 0.65
  member = training_record().members[0]
  assert member.model_copy(update={'history': {'loss': [1.0]}}).best_val_micro_f1 == 0
