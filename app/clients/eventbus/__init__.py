"""The Pub/Sub API's protocol: `pubsub_api.proto` and the modules grpcio-tools generates from it
(`make proto`), committed so that the wheel needs no build step."""
