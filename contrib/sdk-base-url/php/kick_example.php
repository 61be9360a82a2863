<?php
// A plain plivo/php-sdk app (knows nothing of plivo-flow): list conferences, kick member 1.
require __DIR__ . '/vendor/autoload.php';
$client = new Plivo\RestClient(getenv('PLIVO_AUTH_ID'), getenv('PLIVO_AUTH_TOKEN'));
echo json_encode($client->conferences->getList()), "\n";
$client->conferences->kickMember('MyConference', '1'); // throws unless 2xx
echo "kicked member 1 of MyConference\n";
