"""`python -m cron`: serve `CronJobInitiator`, `CronJob` and `TaskService` on SERVICE_PORT (default 9080)."""

from patterns.serving import serve

if __name__ == "__main__":
    serve("cron.app:app")
