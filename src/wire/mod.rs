//! Wire codecs shared by the AWS front doors.

pub mod query;
