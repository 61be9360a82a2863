// An application's own code, unchanged: nothing here knows about plivo-flow. tests/sdk/recipes.sh
// runs it with the base-URL recipe (contrib/sdk-base-url/node) preloaded from the command line.
//
// Kicks the member given as the first argument from MyConference and prints the SDK's answer as JSON.
'use strict';

const plivo = require('plivo');

const client = new plivo.Client(process.env.PLIVO_AUTH_ID, process.env.PLIVO_AUTH_TOKEN);
client.conferences
  .kickMember('MyConference', process.argv[2])
  .then((answer) => {
    console.log(JSON.stringify({ message: answer.message, member_id: answer.memberId, api_id: answer.apiId }));
  })
  .catch((e) => {
    console.error(`kick failed: ${e}`);
    process.exit(1);
  });
