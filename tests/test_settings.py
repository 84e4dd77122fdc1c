"""Typed settings: out-of-range values fail when the pipeline is configured."""

import pytest

from components import settings
from pipeline import run_local
from pipeline.config import PipelineConfig


def test_defaults_are_valid_and_survive_custom_config():
  defaults = settings.TrainerSettings()
  assert settings.from_custom_config(
      settings.TrainerSettings, settings.to_custom_config(defaults)) == defaults


@pytest.mark.parametrize('field, value', [
    ('ngram_dropout', 1.0), ('dropout', -0.1), ('rare_label_frequency', 1.5),
    ('rare_label_weight_power', -1.0), ('batch_size', 0), ('max_epochs', 0),
    ('recency_half_life_months', -1.0), ('label_prior_pseudo_count', -1.0),
    ('label_threshold_min_positives', 0), ('label_threshold_shrinkage', -1.0),
    ('linear_weight', 1.5), ('linear_rare_label_weight', -0.5),
    ('linear_table_learning_rate', 0.0)])
def test_out_of_range_trainer_setting_is_named_in_the_error(field, value):
  with pytest.raises(ValueError, match=f'TrainerSettings.{field} must be'):
    settings.TrainerSettings(**{field: value})
  with pytest.raises(ValueError, match=f'TrainerSettings.{field} must be'):
    settings.from_custom_config(settings.TrainerSettings, {field: value})


def test_a_training_fits_the_mlps_then_the_linear_member_if_it_has_a_weight():
  assert settings.TrainerSettings(ensemble_members=2).trained_models == 3
  assert settings.TrainerSettings(ensemble_members=2, linear_weight=0,
                                  linear_rare_label_weight=0).trained_models == 2
  assert settings.TrainerSettings(linear_weight=0, linear_rare_label_weight=0.5).linear_member


@pytest.mark.parametrize('field', ['max_vocabulary_size', 'min_label_count'])
def test_out_of_range_transform_setting_is_named_in_the_error(field):
  with pytest.raises(ValueError, match=f'TransformSettings.{field} must be at least 1'):
    settings.TransformSettings(**{field: 0})


@pytest.mark.parametrize('field, value', [
    ('window_spans', -1), ('eval_month_fraction', 1.0), ('test_fraction', 0.0),
    ('on_data_problem', 'ignore'), ('max_length_divergence', 2.0), ('max_vocabulary_divergence', -0.1)])
def test_out_of_range_pipeline_setting_is_named_in_the_error(field, value):
  with pytest.raises(ValueError, match=f'PipelineConfig.{field} must be'):
    PipelineConfig(**{field: value})


def test_out_of_range_flag_is_a_usage_error(capsys):
  with pytest.raises(SystemExit) as exit_info:
    run_local.parse_config(['--batch-size', '0'])
  assert exit_info.value.code == 2
  assert 'TrainerSettings.batch_size must be at least 1, got 0' in capsys.readouterr().err


def test_unknown_setting_is_an_error():
  with pytest.raises(ValueError, match='unknown TrainerSettings setting'):
    settings.from_custom_config(settings.TrainerSettings, {'learning_rat': 0.1})


@pytest.mark.parametrize('train_examples, expected', [
    # The full data's months (69k-88k train papers): the configured 8,192.
    (69_000, 8192), (88_000, 8192),
    # The bundled sample's 3,377: 8 steps an epoch.
    (3_377, 423),
    # Tiny data: not below the reference's 128.
    (500, 128)])
def test_batch_size_shrinks_with_the_data_to_keep_steps_per_epoch(train_examples, expected):
  assert settings.TrainerSettings().train_batch_size(train_examples) == expected


def test_a_configured_batch_size_is_the_largest_used():
  assert settings.TrainerSettings(batch_size=32).train_batch_size(3_377) == 32
  assert run_local.parse_config(['--batch-size', '64']).trainer.train_batch_size(100_000) == 64


def test_the_seed_fixes_split_and_training_and_the_training_seed_the_training_alone():
  config = run_local.parse_config(['--seed', '7'])
  assert (config.seed, config.trainer.seed) == (7, 7)
  config = run_local.parse_config(['--seed', '7', '--training-seed', '43'])
  assert (config.seed, config.trainer.seed) == (7, 43)
  defaults = run_local.parse_config([])
  assert (defaults.seed, defaults.trainer.seed) == (PipelineConfig.seed,
                                                    settings.TrainerSettings.seed)


def test_recency_weighting_is_a_flag_and_a_negative_half_life_a_usage_error(capsys):
  assert run_local.parse_config([]).trainer.recency_half_life_months == 0
  assert run_local.parse_config(
      ['--recency-half-life-months', '2']).trainer.recency_half_life_months == 2
  with pytest.raises(SystemExit):
    run_local.parse_config(['--recency-half-life-months', '-1'])
  assert 'TrainerSettings.recency_half_life_months must be' in capsys.readouterr().err
