-- Kafka consumers keep their position in their own store, written in the same transaction as
-- the handler's effect: after a restart they resume exactly where their effects stopped.
create table consumer_offsets (
    consumer text not null,
    topic text not null,
    partition_id integer not null,
    next_offset bigint not null,
    primary key (consumer, topic, partition_id)
);
