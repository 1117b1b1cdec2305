-- Lesson media: the private bucket, lesson_media and the storage.objects policy. A file is
-- visible exactly to those who may read its lesson's content (free: anyone; paid: its owner
-- while the purchase is paid), never by a name that merely starts with a readable lesson's id,
-- and no learner writes. What storage-api signs is what this select shows the caller.
begin;
select plan(50);

select tests.create_user('media-owner@example.com') as owner \gset
select tests.create_user('media-other@example.com') as other \gset
\set free '00000000-0000-4000-8000-000000000001'
\set joins '00000000-0000-4000-8000-000000000002'
\set rls '00000000-0000-4000-8000-000000000003'
\set webhooks '00000000-0000-4000-8000-000000000004'
\set unreleased '00000000-0000-4000-8000-000000000007'

-- structure -----------------------------------------------------------------------------------

select results_eq($$select public from storage.buckets where id = 'lesson-media'$$, array[false],
  'the bucket lesson-media exists and is private');
select columns_are('public', 'lesson_media',
  array['id', 'lesson_id', 'kind', 'title', 'object_path', 'captions_path', 'external_url', 'external',
        'duration_seconds', 'page_count', 'position', 'created_at', 'updated_at']);
select enum_has_labels('public', 'lesson_media_kind', array['video', 'audio', 'image', 'pdf']);
select fk_ok('public', 'lesson_media', 'lesson_id', 'public', 'lessons', 'id');
select policies_are('public', 'lesson_media', array['readers of a lesson read its media']);
select policy_cmd_is('public', 'lesson_media', 'readers of a lesson read its media', 'select', 'lesson_media: select only');
select policy_roles_are('public', 'lesson_media', 'readers of a lesson read its media', array['anon', 'authenticated']);
select policies_are('storage', 'objects', array['readers of a lesson read its media files'],
  'storage.objects has one policy: select, for readers of the lesson (none to insert, update or delete)');
select policy_cmd_is('storage', 'objects', 'readers of a lesson read its media files', 'select', 'storage.objects: select only');
select policy_roles_are('storage', 'objects', 'readers of a lesson read its media files', array['anon', 'authenticated']);
select table_privs_are('public', 'lesson_media', 'anon', array['SELECT']);
select table_privs_are('public', 'lesson_media', 'authenticated', array['SELECT']);
select table_privs_are('public', 'media_needing_attention', 'anon', array[]::text[]);
select table_privs_are('public', 'media_needing_attention', 'authenticated', array[]::text[]);
select table_privs_are('public', 'media_needing_attention', 'service_role', array['SELECT']);

-- constraints: a listed path is `<its lesson>/<file>`, one level, never `.` or `..` ----------

select throws_ok(format($$insert into public.lesson_media (lesson_id, kind, title, object_path)
  values (%L, 'video', 'x', %L)$$, :'free', :'joins' || '/lesson.mp4'), '23514', null,
  'a path in another lesson''s folder is refused');
select throws_ok(format($$insert into public.lesson_media (lesson_id, kind, title, object_path)
  values (%L, 'video', 'x', %L)$$, :'free', :'free' || '/../' || :'joins' || '/lesson.mp4'), '23514', null,
  'a path climbing out of its folder is refused');
select throws_ok(format($$insert into public.lesson_media (lesson_id, kind, title, object_path)
  values (%L, 'video', 'x', %L)$$, :'free', :'free' || '/..'), '23514', null, 'a file named .. is refused');
select throws_ok(format($$insert into public.lesson_media (lesson_id, kind, title, object_path, external_url)
  values (%L, 'video', 'x', %L, 'https://media.example.com/x.mp4')$$, :'free', :'free' || '/x.mp4'), '23514', null,
  'a row is a file in the bucket or an outside address, not both');
select throws_ok(format($$insert into public.lesson_media (lesson_id, kind, title) values (%L, 'video', 'x')$$, :'free'),
  '23514', null, 'a row names its file');
select throws_ok(format($$insert into public.lesson_media (lesson_id, kind, title, object_path, captions_path)
  values (%L, 'image', 'x', %L, %L)$$, :'free', :'free' || '/a.png', :'free' || '/a.vtt'), '23514', null,
  'only video and audio have captions');
select throws_ok(format($$insert into public.lesson_media (lesson_id, kind, title, object_path, page_count)
  values (%L, 'video', 'x', %L, 3)$$, :'free', :'free' || '/a.mp4'), '23514', null, 'only a PDF has pages');

-- the media and their files -------------------------------------------------------------------

insert into public.lesson_media (lesson_id, kind, title, object_path, captions_path, duration_seconds, position)
values
  (:'free', 'video', 'Free video', :'free' || '/intro.webm', :'free' || '/intro.vtt', 3, 0),
  (:'joins', 'video', 'Joins video', :'joins' || '/joins.webm', :'joins' || '/joins.vtt', 3, 0),
  (:'joins', 'image', 'A left join drawn', :'joins' || '/diagram.png', null, null, 1),
  (:'rls', 'audio', 'RLS audio', :'rls' || '/rls.wav', null, 2, 0),
  (:'webhooks', 'pdf', 'Webhooks notes', :'webhooks' || '/notes.pdf', null, null, 0),
  (:'unreleased', 'video', 'Partitioning', :'unreleased' || '/parts.webm', null, 3, 0);
insert into public.lesson_media (lesson_id, kind, title, external_url, position)
values
  (:'joins', 'video', 'Joins, elsewhere', 'https://media.example.com/joins.mp4', 2),
  (:'webhooks', 'video', 'Webhooks, elsewhere', 'https://media.example.com/webhooks.mp4', 1);

insert into storage.buckets (id, name, public) values ('elsewhere', 'elsewhere', false);
insert into storage.objects (bucket_id, name)
select 'lesson-media', p from (
  select object_path as p from public.lesson_media where object_path is not null
  union all select captions_path from public.lesson_media where captions_path is not null
) as listed;
insert into storage.objects (bucket_id, name) values
  -- in a readable folder, but nobody listed it
  ('lesson-media', :'free' || '/unlisted.webm'),
  -- names that start with a readable lesson's id and climb into a paid one
  ('lesson-media', :'free' || '/../' || :'joins' || '/joins.webm'),
  ('lesson-media', :'free' || '/x/../../' || :'rls' || '/rls.wav'),
  -- a listed name, in another bucket
  ('elsewhere', :'free' || '/intro.webm');

-- the owner buys joins, rls (refunded) and webhooks (disputed)
select public.handle_stripe_event(tests.event('evt_media_1', 'checkout.session.completed',
  tests.checkout_session('cs_test_media_1', :'owner', :'joins', 1200, p_payment_intent => 'pi_media_1'), 1700000000));
select public.handle_stripe_event(tests.event('evt_media_2', 'checkout.session.completed',
  tests.checkout_session('cs_test_media_2', :'owner', :'rls', 2500, p_payment_intent => 'pi_media_2'), 1700000100));
select public.handle_stripe_event(tests.event('evt_media_3', 'checkout.session.completed',
  tests.checkout_session('cs_test_media_3', :'owner', :'webhooks', 1900, p_payment_intent => 'pi_media_3'), 1700000200));
select public.handle_stripe_event(tests.event('evt_media_4', 'charge.refunded',
  tests.refunded_charge('pi_media_2', 2500, 2500), 1700000300));
select public.handle_stripe_event(tests.event('evt_media_5', 'charge.dispute.created',
  tests.dispute('pi_media_3'), 1700000400));

-- reads, as each role ---------------------------------------------------------------------------

select tests.authenticate_as(:'owner');
select results_eq($$select name from storage.objects where bucket_id = 'lesson-media' order by name$$,
  array[:'free' || '/intro.vtt', :'free' || '/intro.webm', :'joins' || '/diagram.png', :'joins' || '/joins.vtt',
        :'joins' || '/joins.webm'],
  'the owner sees the free lesson''s files and the paid one''s; not the refunded, disputed, unlisted or climbing ones');
select results_eq('select title from public.lesson_media order by lesson_id, position',
  array['Free video', 'Joins video', 'A left join drawn', 'Joins, elsewhere'],
  'the owner lists the media of the lessons they may read, outside addresses included');
select is_empty(format($$select 1 from storage.objects where bucket_id = 'lesson-media' and name = %L$$, :'rls' || '/rls.wav'),
  'refunded: the file is gone for its former owner');
select is_empty(format($$select 1 from storage.objects where bucket_id = 'lesson-media' and name = %L$$, :'webhooks' || '/notes.pdf'),
  'disputed: the file is paused for its owner');
select is_empty($$select 1 from public.lesson_media where title = 'Webhooks, elsewhere'$$,
  'disputed: the outside address is not shown either');
select is_empty($$select 1 from storage.objects where bucket_id = 'elsewhere'$$,
  'a listed name in another bucket is not shown');

select tests.authenticate_as(:'other');
select results_eq($$select name from storage.objects order by name$$,
  array[:'free' || '/intro.vtt', :'free' || '/intro.webm'],
  'a learner without purchases sees the free lesson''s files alone');
select results_eq('select title from public.lesson_media', array['Free video'], 'and lists the free lesson''s media alone');
select is_empty(format($$select 1 from storage.objects where name = %L$$, :'free' || '/../' || :'joins' || '/joins.webm'),
  'a name climbing from the free lesson into a paid one is not shown');

select tests.authenticate_as_anon();
select results_eq($$select name from storage.objects order by name$$,
  array[:'free' || '/intro.vtt', :'free' || '/intro.webm'], 'a visitor sees the free lesson''s files alone');
select results_eq('select title from public.lesson_media', array['Free video'], 'and lists the free lesson''s media alone');
select throws_ok('select * from public.media_needing_attention', '42501', null, 'a visitor cannot read the operators'' list');

-- writes: none for learners or visitors -------------------------------------------------------

select tests.authenticate_as(:'owner');
select throws_ok(format($$insert into storage.objects (bucket_id, name) values ('lesson-media', %L)$$, :'joins' || '/mine.webm'),
  '42501', null, 'the owner cannot add a file, even to a lesson they own');
select is_empty(format($$update storage.objects set name = %L where bucket_id = 'lesson-media' returning 1$$, :'joins' || '/renamed.webm'),
  'the owner updates no file');
select is_empty($$delete from storage.objects where bucket_id = 'lesson-media' returning 1$$, 'the owner deletes no file');
select throws_ok(format($$insert into public.lesson_media (lesson_id, kind, title, object_path) values (%L, 'video', 'x', %L)$$,
  :'joins', :'joins' || '/x.webm'), '42501', null, 'the owner cannot list media');
select throws_ok($$update public.lesson_media set title = 'mine'$$, '42501', null, 'the owner cannot change media');
select throws_ok($$delete from public.lesson_media$$, '42501', null, 'the owner cannot remove media');
select throws_ok('select * from public.media_needing_attention', '42501', null, 'a learner cannot read the operators'' list');

select tests.authenticate_as_anon();
select throws_ok(format($$insert into storage.objects (bucket_id, name) values ('lesson-media', %L)$$, :'free' || '/mine.webm'),
  '42501', null, 'a visitor cannot add a file');
select is_empty($$delete from storage.objects returning 1$$, 'a visitor deletes no file');
select throws_ok($$delete from public.lesson_media$$, '42501', null, 'a visitor cannot remove media');

select tests.clear_authentication();
select results_eq($$select count(*)::int from storage.objects where bucket_id = 'lesson-media'$$, array[11],
  'every file is still there, under its own name');

-- service role: everything; the operators' list --------------------------------------------------

select tests.authenticate_as_service_role();
select results_eq($$select count(*)::int from storage.objects where bucket_id = 'lesson-media'$$, array[11],
  'the service role sees every file');
select results_eq($$select reason, external_url from public.media_needing_attention order by external_url$$,
  $$values ('external_url_not_revocable', 'https://media.example.com/joins.mp4'),
           ('external_url_not_revocable', 'https://media.example.com/webhooks.mp4')$$,
  'each outside address is listed for an operator: it cannot be revoked');

-- a repurchase after the refund brings the files back; the dispute won does too
select tests.clear_authentication();
select public.handle_stripe_event(tests.event('evt_media_6', 'checkout.session.completed',
  tests.checkout_session('cs_test_media_6', :'owner', :'rls', 2500, p_payment_intent => 'pi_media_6'), 1700000500));
select public.handle_stripe_event(tests.event('evt_media_7', 'charge.dispute.closed',
  tests.dispute('pi_media_3', 'won'), 1700000600));
select tests.authenticate_as(:'owner');
select isnt_empty(format($$select 1 from storage.objects where name = %L$$, :'rls' || '/rls.wav'),
  'bought again after the refund: the file is shown again');
select isnt_empty(format($$select 1 from storage.objects where name = %L$$, :'webhooks' || '/notes.pdf'),
  'dispute won: the file is shown again');

-- a lost dispute ends it
select tests.clear_authentication();
select public.handle_stripe_event(tests.event('evt_media_8', 'charge.dispute.created',
  tests.dispute('pi_media_1'), 1700000700));
select public.handle_stripe_event(tests.event('evt_media_9', 'charge.dispute.closed',
  tests.dispute('pi_media_1', 'lost'), 1700000800));
select tests.authenticate_as(:'owner');
select is_empty(format($$select 1 from storage.objects where name like %L$$, :'joins' || '/%'),
  'dispute lost: none of the lesson''s files is shown');

select tests.clear_authentication();
select * from finish();
rollback;
