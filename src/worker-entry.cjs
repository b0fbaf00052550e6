// The entry point of this project's worker threads (src/threads.ts): it loads the TypeScript module
// named in workerData through tsx's require hook, which, unlike its ES-module hooks, is in place
// before a worker thread's entry point runs.
require(require('node:worker_threads').workerData.__entry);
