/* MESSAGE_IDs of the journal events operators search for; documented in
 * systemd/mapstatd.catalog. */
#pragma once

#define MESSAGE_ID_NEW_EPOCH "45a729e10d494bd2ac93538d5bee491d"
#define MESSAGE_ID_STORAGE_FAILING "d3295dcf12d64e3e8903e0889dffeccc"
#define MESSAGE_ID_STORAGE_RECOVERED "595f4234cf004ee3a96b9eb63c79c36c"
