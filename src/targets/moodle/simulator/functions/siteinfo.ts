/** core_webservice_get_site_info (webservice/externallib.php, Moodle 4.5). */
import { multiple, single, value } from '../external.js';
import { fullname, userPictureUrl, type WsFunction } from '../site.js';

export const getSiteInfo: WsFunction = {
  name: 'core_webservice_get_site_info',
  params: single({ serviceshortnames: multiple(value('alphanumext'), 'default', []) }),
  returns: single({
    sitename: value('raw'),
    username: value('raw'),
    firstname: value('text'),
    lastname: value('text'),
    fullname: value('text'),
    lang: value('lang'),
    userid: value('int'),
    siteurl: value('raw'),
    userpictureurl: value('url'),
    functions: multiple(single({ name: value('raw'), version: value('text') })),
    downloadfiles: value('int', 'optional'),
    uploadfiles: value('int', 'optional'),
    release: value('text', 'optional'),
    version: value('text', 'optional'),
    mobilecssurl: value('url', 'optional'),
    advancedfeatures: multiple(single({ name: value('alpha'), value: value('int') }), 'optional'),
    usercanmanageownfiles: value('bool', 'optional'),
    userquota: value('int', 'optional'),
    usermaxuploadfilesize: value('int', 'optional'),
    userhomepage: value('int', 'optional'),
    userhomepageurl: value('url', 'optional'),
    userprivateaccesskey: value('alphanum', 'optional'),
    siteid: value('int', 'optional'),
    sitecalendartype: value('plugin', 'optional'),
    usercalendartype: value('plugin', 'optional'),
    userissiteadmin: value('bool', 'optional'),
    theme: value('theme', 'optional'),
    limitconcurrentlogins: value('int', 'optional'),
    usersessionscount: value('int', 'optional'),
    policyagreed: value('int', 'optional'),
  }),
  execute(ctx, p: { serviceshortnames: string[] }) {
    const { user, site, store } = ctx;
    const wanted = p.serviceshortnames;
    const functions = wanted.length === 0 || wanted.includes('provisioning')
      ? site.serviceFunctions.map((name) => ({ name, version: site.version }))
      : [];
    return {
      sitename: store.site.sitename,
      username: user.username,
      firstname: user.firstname,
      lastname: user.lastname,
      fullname: fullname(user),
      lang: user.lang,
      userid: user.id,
      siteurl: site.wwwroot,
      userpictureurl: userPictureUrl(ctx, 'f1'),
      functions,
      downloadfiles: 0,
      uploadfiles: 0,
      release: site.release,
      version: site.version,
      mobilecssurl: '',
      advancedfeatures: [
        ['usecomments', 1], ['usetags', 1], ['enablenotes', 1], ['messaging', 1], ['enableblogs', 1],
        ['enablecompletion', 1], ['enablebadges', 1], ['messagingallusers', 0], ['enablecustomreports', 1],
        ['enableglobalsearch', 0], ['mnet_dispatcher_mode', 0], ['enablecompetencies', 1],
      ].map(([name, v]) => ({ name: name as string, value: v as number })),
      usercanmanageownfiles: true,
      userquota: 104857600,
      usermaxuploadfilesize: 67108864,
      userhomepage: 1,
      userprivateaccesskey: store.site.privateaccesskeys[String(user.id)] ?? '',
      siteid: 1,
      sitecalendartype: 'gregorian',
      usercalendartype: user.calendartype || 'gregorian',
      userissiteadmin: user.id === 2,
      theme: 'boost',
      limitconcurrentlogins: 0,
      policyagreed: 0,
    };
  },
};
