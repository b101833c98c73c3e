// Runs once, in mongosh as the root user, when the MongoDB volume is empty (docker-entrypoint-initdb.d).
// Each service gets a user in its own database with readWrite on that database and nothing else, so no
// service can read another's data. Passwords come from the container's environment (docker-compose.yml).
//
// [user, database, environment variable with the password]
const SERVICE_USERS = [
  ["ticketing", "ops_ticketing", "TICKETING_MONGO_PASSWORD"],
  ["lifecycle", "ops_lifecycle", "LIFECYCLE_MONGO_PASSWORD"],
  ["knowledge", "ops_knowledge", "KNOWLEDGE_MONGO_PASSWORD"],
  ["analytics", "ops_analytics", "ANALYTICS_MONGO_PASSWORD"]
];

for (const [user, database, passwordVariable] of SERVICE_USERS) {
  const password = process.env[passwordVariable];
  if (!password) {
    // A thrown error stops the container's first start, instead of leaving a service without its user.
    throw new Error(`${passwordVariable} is not set: cannot create the MongoDB user ${user}`);
  }
  db.getSiblingDB(database).createUser({
    user: user,
    pwd: password,
    roles: [{ role: "readWrite", db: database }]
  });
  print(`created user ${user} with readWrite on ${database}`);
}
