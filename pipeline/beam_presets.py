"""Beam pipeline arguments for the runners the data-parallel components can use.

ExampleGen, StatisticsGen, Transform and the Evaluator run on Beam. TFX passes these
arguments to each of them (`PipelineConfig.beam_pipeline_args`).

| preset | where | needs |
|---|---|---|
| `direct` | this process (Beam's in-memory DirectRunner) | nothing |
| `direct-multiprocessing` | one worker process per core on this machine | nothing |
| `dataflow` | Google Cloud Dataflow | project, region, a gs:// temp location; workers run the pipeline image |
| `flink` | an Apache Flink cluster (portable runner) | the Flink master address; a Beam worker pool (the pipeline image run with `--worker_pool`) next to each task manager |
| `spark` | an Apache Spark cluster (portable runner) | the Spark master URL; a Beam worker pool as for Flink |

Temp and staging locations must be reachable by every worker: a gs:// (or hdfs://,
s3://) path, never a local one, for the three cluster runners.
"""

from typing import Optional, Tuple

PRESETS = ('direct', 'direct-multiprocessing', 'dataflow', 'flink', 'spark')


def beam_args(preset: str, *, project: Optional[str] = None, region: Optional[str] = None,
              temp_location: Optional[str] = None, master: Optional[str] = None,
              worker_image: Optional[str] = None,
              worker_pool: str = 'localhost:50000') -> Tuple[str, ...]:
  """Arguments for `preset`; raises ValueError naming what a preset lacks."""
  if preset == 'direct':
    return ()
  if preset == 'direct-multiprocessing':
    # 0 workers: one per core.
    return ('--direct_running_mode=multi_processing', '--direct_num_workers=0')
  if preset == 'dataflow':
    _require(preset, project=project, region=region, temp_location=temp_location)
    args = ('--runner=DataflowRunner', f'--project={project}', f'--region={region}',
            f'--temp_location={temp_location}',
            f'--staging_location={temp_location.rstrip("/")}/staging')
    # Workers need the project's code: the pipeline image carries it.
    return args + ((f'--sdk_container_image={worker_image}',) if worker_image else ())
  if preset in ('flink', 'spark'):
    _require(preset, master=master, temp_location=temp_location)
    runner_args = (('--runner=FlinkRunner', f'--flink_master={master}')
                   if preset == 'flink' else
                   ('--runner=SparkRunner', f'--spark_master_url={master}'))
    # EXTERNAL: workers are Beam worker pools already running the pipeline image.
    return runner_args + ('--environment_type=EXTERNAL', f'--environment_config={worker_pool}',
                          f'--temp_location={temp_location}')
  raise ValueError(f'unknown Beam preset {preset!r}; choose one of {", ".join(PRESETS)}')


def _require(preset: str, **values: Optional[str]) -> None:
  missing = [name for name, value in values.items() if not value]
  if missing:
    raise ValueError(f'the {preset} Beam preset needs {", ".join(missing)}')
