-- The databases of the pg host: MLflow's backend store and the platform's metrics store.
CREATE DATABASE mlflow;
CREATE DATABASE metrics;
