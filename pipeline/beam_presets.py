"""Beam pipeline arguments for the runners the data-parallel components can use.

ExampleGen, StatisticsGen, Transform and the Evaluator run on Beam. TFX passes these
arguments to each of them (`PipelineConfig.beam_pipeline_args`).

| preset | where | needs |
|---|---|---|
| `direct` | this process (Beam's in-memory DirectRunner) | nothing |
| `direct-multiprocessing` | one worker process per core on this machine | nothing |
| `dataflow` | Google Cloud Dataflow | project, region, a shared temp location; workers run the pipeline image |
| `portable` | a Beam job service: a Flink or Spark cluster's job server, or Beam's Python one | its endpoint; a Beam worker pool (the pipeline image run with `--worker_pool`) beside each task manager / executor, or Docker on the workers |

A cluster runs its job server as a service: the portable preset never starts one
(Beam's FlinkRunner / SparkRunner would download the server's jar and start a JVM
inside each step). TFX's `pre_optimize=all` experiment is not set: Beam's Python job
service fails on the fused stages it produces. Temp and staging locations must be
reachable by every worker: a gs:// (or hdfs://, s3://) path, never a local one.
"""

from typing import Optional, Tuple

PRESETS = ('direct', 'direct-multiprocessing', 'dataflow', 'portable')
DEFAULT_WORKER_POOL = 'localhost:50000'
JOB_TIMEOUT_SECONDS = 24 * 3600  # The longest a Beam job of the portable preset may run.


def beam_args(preset: str, *, project: Optional[str] = None, region: Optional[str] = None,
              temp_location: Optional[str] = None, job_endpoint: Optional[str] = None,
              worker_image: Optional[str] = None,
              worker_pool: Optional[str] = DEFAULT_WORKER_POOL) -> Tuple[str, ...]:
  """Arguments for `preset`; raises ValueError naming what a preset lacks.

  For `portable`, workers come from the Beam worker pool at `worker_pool` (EXTERNAL:
  the sidecar layout of Flink / Spark operators); with `worker_pool=None`, each
  worker machine starts `worker_image` in Docker.
  """
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
  if preset == 'portable':
    _require(preset, job_endpoint=job_endpoint,
             **({} if worker_pool else {'worker_image': worker_image}))
    environment = (('--environment_type=EXTERNAL', f'--environment_config={worker_pool}')
                   if worker_pool else
                   ('--environment_type=DOCKER', f'--environment_config={worker_image}'))
    # Beam opens the job's state stream with the job-service timeout as its deadline
    # (60 s by default): a longer job fails with DEADLINE_EXCEEDED while it runs.
    return (('--runner=PortableRunner', f'--job_endpoint={job_endpoint}',
             f'--job_server_timeout={JOB_TIMEOUT_SECONDS}') + environment +
            ((f'--temp_location={temp_location}',) if temp_location else ()))
  raise ValueError(f'unknown Beam preset {preset!r}; choose one of {", ".join(PRESETS)}')


def _require(preset: str, **values: Optional[str]) -> None:
  missing = [name for name, value in values.items() if not value]
  if missing:
    raise ValueError(f'the {preset} Beam preset needs {", ".join(missing)}')
